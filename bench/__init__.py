"""Benchmarks of tape against numpy (the floor), torch, jax, HIPS autograd and CasADi.

Run from the repository root: python -m bench [--quick] [--only NAME]
"""
