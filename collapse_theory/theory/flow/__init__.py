"""theory.flow"""
