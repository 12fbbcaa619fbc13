"""Find objects by text or by a box file, for either side: query parsing, the detector and the
(ZeroGPU-aware) runner. The sides turn its results into their own objects."""
