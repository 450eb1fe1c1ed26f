"""Everything that speaks Bot Framework: adapter, activity handler, lesson monitor, notifier."""
