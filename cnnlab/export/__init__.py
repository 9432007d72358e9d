"""Taking a run out of the lab: a bundle anyone can open, a script that trains it again, a link.

`bundle` zips a finished run (config, metrics, plain Keras model, architecture, `train.py`);
`script` writes `train.py` from its sections (`data_code`, `training_code`, `folders`, all
written with `source`); `link` turns the Train form into a shareable address and back.
"""
