"""The questions: networks, shelters, dispatch, coverage, situational awareness."""
