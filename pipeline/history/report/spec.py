"""RunReport's interface: its node id, its artifact's file, and where a local run keeps its reports."""
NODE_ID = "RunReport"
REPORT_FILE = "report.html"   # in the RunReport artifact
REPORT_TYPE = "imgpipe.RunReport"  # that artifact's type (RunReportFile); its other output is the digest
REPORTS_DIR = "reports"       # a local run's copy: <pipeline root>/reports/<run id>.html
CONFIG_PROPERTY = "config"    # RunReport's exec property: the run's whole config as JSON
