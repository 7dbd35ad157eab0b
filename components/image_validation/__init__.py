"""Image-aware data validation that gates training: see component.py."""
