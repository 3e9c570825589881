"""merchants"""
