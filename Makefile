# `make demo` and `make test` are the two commands that matter; both create the environment
# (.venv, see scripts/setup_env.sh) when it is missing or older than the files it is built from.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= $(CURDIR)/.venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.fartrack-env-stamp
ENV_INPUTS := scripts/setup_env.sh requirements.txt requirements-ros.txt setup.py \
	package.xml CMakeLists.txt fartrack_ros/__init__.py \
	$(wildcard msg/*.msg srv/*.srv launch/*.py config/*.yaml) \
	$(wildcard interfaces/vision_msgs/package.xml interfaces/vision_msgs/CMakeLists.txt \
	           interfaces/vision_msgs/msg/*.msg)

# Every ROS process started from here:
# logs inside the repo, Fast DDS large-data transport (else 640x480 frames get lost), and a
# random domain so that concurrent runs on one machine do not see each other's topics.
export ROS_LOG_DIR ?= $(CURDIR)/.ros_log
export FASTDDS_BUILTIN_TRANSPORTS ?= LARGE_DATA
ifeq ($(origin ROS_DOMAIN_ID),undefined)
ROS_DOMAIN_ID := $(shell shuf -i 100-199 -n 1)
endif
export ROS_DOMAIN_ID
# ament_index lookups (share/fartrack_ros) need the venv prefix; the bootstrapper does not set it.
export AMENT_PREFIX_PATH := $(VENV)$(if $(AMENT_PREFIX_PATH),:$(AMENT_PREFIX_PATH))

PYTEST_ARGS ?= -q
# A test that hangs (e.g. in DDS shutdown) fails after this long with every thread's stack,
# instead of stalling the whole run.
PYTEST_TIMEOUT ?= --timeout=600 --timeout-method=thread
DEMO_ARGS ?=
BENCH_ARGS ?=

.PHONY: help env demo test lint bench clean distclean

help:
	@echo "make demo   - track a pedestrian in a real video through the ROS 2 node (out/demo/)"
	@echo "make test   - lint, then run the test suite"
	@echo "make lint   - ruff check (rules in ruff.toml)"
	@echo "make env    - create / refresh .venv (done by demo and test when needed)"
	@echo "make bench  - node benchmark: images at 30 Hz into the running node (JSON)"
	@echo "make clean  - remove build outputs and ROS logs (make distclean: also .venv and out/)"

env: $(STAMP)

$(STAMP): $(ENV_INPUTS)
	VENV=$(VENV) scripts/setup_env.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# pytest exits 5 when it collected no tests (e.g. a fresh skeleton): reported, not a failure.
test: lint
	@mkdir -p $(ROS_LOG_DIR)
	@echo "ROS_DOMAIN_ID=$(ROS_DOMAIN_ID)"
	@rc=0; FARTRACK_REQUIRE_ROS=1 $(PY) -m pytest $(PYTEST_TIMEOUT) $(PYTEST_ARGS) test || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests under test/"; rc=0; fi; \
	exit $$rc

demo: $(STAMP)
	@mkdir -p $(ROS_LOG_DIR)
	$(VENV)/bin/fartrack demo $(DEMO_ARGS)

bench: $(STAMP)
	@mkdir -p $(ROS_LOG_DIR)
	$(VENV)/bin/fartrack bench-node $(BENCH_ARGS)

clean:
	rm -rf build install log .ros_log .pytest_cache

distclean: clean
	rm -rf $(VENV) out
