"""Curated TFDV schemas, one folder per dataset."""
