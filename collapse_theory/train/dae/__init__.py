"""train.dae"""
