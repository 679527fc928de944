"""Model: static lint of a built/compiled Keras model and turning fit-time crashes into findings."""
