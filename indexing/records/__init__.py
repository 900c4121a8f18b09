"""Records and taxonomy: the record models, countries, crime forms and their inference."""
