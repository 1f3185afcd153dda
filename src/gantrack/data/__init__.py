"""Data: the dataset names and their rules (``registry``), datasets by name
(``datasets``), their file formats (``mnist``, ``cifar10``, ``npz``, ``image_folder``),
conversion to the configured size and channels (``conversion``), and the train/test
splits the pipeline writes (``splits``)."""
