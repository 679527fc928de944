"""The fault benchmark: faulty scripts and image folders with known answers, and a scorer."""
