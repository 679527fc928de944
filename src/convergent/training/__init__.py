"""Training: probes, the Monitor callback, learning-curve analysis and `convergent run`."""
