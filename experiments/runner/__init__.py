"""The experiment runner: specs, the recorder and row schema, results, reports and the Ray session."""
