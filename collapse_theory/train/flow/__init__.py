"""train.flow"""
