"""netspec studio: a local web page where a spec is edited and checked as it is typed (`netspec studio`)."""
