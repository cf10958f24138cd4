"""The demo: the main job end to end on an embedded sample (``datacanary demo``)."""
