"""NewDataCheck's interface: its node id and what its NewDataReport records."""
NODE_ID = "NewDataCheck"
NEW_DATA_PROPERTY = "new_data"  # 1: train; 0: the newest span is one the served model was trained on
MESSAGE_PROPERTY = "message"     # the stop message when no span is new, else ""
ANY_SPAN = -1                    # `span` parameter: the newest (a number: that span, always trained on)
