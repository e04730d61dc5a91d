"""Reading platform exports into the graph: readers, checks, normalisers, generator, jobs."""
