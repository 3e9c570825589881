"""termination"""
