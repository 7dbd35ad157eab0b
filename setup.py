"""Installable package: the pipeline, its components and the curated schemas.

The same package is installed in the container image and shipped to Beam
workers (e.g. Dataflow's --setup_file), so every step imports the same code.
"""
from setuptools import find_packages, setup

setup(
    name="imgpipe",
    version="0.1.0",
    description="Production image classification with TFX: image-folder ingestion, data "
                "validation, Transform, residual CNN, evaluation gate and push.",
    python_requires=">=3.10,<3.11",
    packages=find_packages(include=["pipeline", "pipeline.*", "components", "components.*",
                                    "schemas", "schemas.*"]),
    package_data={"schemas": ["*/*.pbtxt"]},
    install_requires=[
        "tfx==1.16.0",
        "tensorflow==2.16.2",
        "tf-keras==2.16.0",
        "tensorflow-transform==1.16.0",
        "tensorflow-data-validation==1.16.1",
        "tensorflow-model-analysis==0.47.1",
        "apache-beam[gcp]==2.59.0",
        "kfp==2.5.0",
        "pillow",
        "pyyaml",
        "matplotlib==3.10.9",
        "Markdown==3.10.3",  # the model card in the HTML report (docs/model-card.md)
    ],
    entry_points={"console_scripts": ["imgpipe=pipeline.cli:main"]},
)
