"""Data layer: manifest, box conventions, image validation, SDIP JSON, demo data, datamodule."""
