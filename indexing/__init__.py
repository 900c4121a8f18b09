"""Records, segmentation, crime forms, loaders, engines and the search core of casedigest."""
