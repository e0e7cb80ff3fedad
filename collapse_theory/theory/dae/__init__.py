"""theory.dae"""
