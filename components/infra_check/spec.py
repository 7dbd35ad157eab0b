"""InfraCheck's interface: its node id and what it records on its InfraBlessing."""
NODE_ID = "InfraCheck"
REPORT_FILE = "infra_check.json"
REASON_PROPERTY = "reason"   # why not blessed, "" when blessed (the `blessed` key is TFX's: features.BLESSED_PROPERTY)
