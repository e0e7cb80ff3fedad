"""The collapse laws family: catalog (claims), symbolic and numeric checks."""
