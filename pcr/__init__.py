"""Outcomes reporting for immigrant post-conviction relief programs."""
