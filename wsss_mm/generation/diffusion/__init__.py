"""Diffusion generators and attention capture."""
