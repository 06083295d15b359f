import os

# As the engine does for its workers: OpenMP threads that spin while waiting make small fits
# take a minute on a busy machine. It must be set before scikit-learn loads the OpenMP runtime.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
