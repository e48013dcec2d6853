"""Diffusion generators of the generation package."""
