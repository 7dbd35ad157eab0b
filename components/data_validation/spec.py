"""The data checks' interface: node ids of TFX's own StatisticsGen, SchemaGen / ImportSchemaGen and
ExampleValidator, and of DataGate; the files they write that other steps read."""
STATISTICS_GEN_ID = "StatisticsGen"
SCHEMA_GEN_ID = "SchemaGen"               # inferred schema
IMPORT_SCHEMA_GEN_ID = "ImportSchemaGen"  # curated schema (data.schema_path)
EXAMPLE_VALIDATOR_ID = "ExampleValidator"
DATA_GATE_ID = "DataGate"

SCHEMA_FILE = "schema.pbtxt"          # what SchemaGen and ImportSchemaGen write in their artifact
STATISTICS_FILE = "FeatureStats.pb"   # StatisticsGen, per split: Split-<name>/FeatureStats.pb
ANOMALIES_FILE = "SchemaDiff.pb"      # ExampleValidator, per split: Split-<name>/SchemaDiff.pb
