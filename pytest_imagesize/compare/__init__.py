"""What changed between two image summaries, and how that change is worded."""
