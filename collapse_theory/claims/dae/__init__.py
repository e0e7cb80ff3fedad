"""claims.dae"""
