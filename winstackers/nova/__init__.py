"""Nova on Hyper-V: a compute driver for nova 34 (:mod:`.driver`)."""
