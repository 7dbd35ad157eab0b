"""Infra check: does the candidate SavedModel load and answer correctly in a fresh process?"""
