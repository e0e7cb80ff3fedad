"""claims.flow"""
