"""The Jupyter server extension: builds the service once, mounts the handlers under base_url.

Its options are traitlets of `IsccLabApp` (config=True): set in a Jupyter config file
(`c.IsccLabApp.media_path = "..."`), on the server's command line
(`--IsccLabApp.media_path=...`) or by `iscc-lab serve`; the ISCC_WEB_* environment gives their
defaults.
"""

import asyncio
import logging
import threading
from functools import cached_property, partial

from jupyter_server.extension.application import ExtensionApp
from pydantic import ValidationError
from tornado.ioloop import IOLoop, PeriodicCallback
from traitlets import Bool, Float, Integer, Unicode, default

from iscc_lab import pool as worker_pool
from iscc_lab.errors import IsccLabError
from iscc_lab.media import run_job
from iscc_lab.media_catalogue import CataloguedStore
from iscc_lab.pool import Pool as WorkerPool
from iscc_lab.settings import Settings

__all__ = ["IsccLabApp", "Service", "WorkerPool", "shared_pool"]

SERVER_NICENESS = 10  # the workers yield the CPU to the server's IO loop and to kernels


def shared_pool(max_workers: int | None, **limits) -> WorkerPool:
    """The server's pool for its size: niced, so that the IO loop and the user's kernels come
    first. Servers started and stopped in one process (as in tests) reuse it."""
    return worker_pool.shared_pool(max_workers, niceness=SERVER_NICENESS, **limits)


class Service:
    """What the handlers use: settings, the store and the worker pool."""

    def __init__(self, settings: Settings, pool: WorkerPool | None = None):
        self.settings = settings
        self.store = CataloguedStore.from_settings(settings)  # with its catalogue (issue 12)
        self.pool = pool or shared_pool(
            settings.max_workers, job_timeout=settings.job_timeout, job_memory=settings.job_memory
        )
        self._settings_dump = settings.model_dump()
        threading.Thread(target=self._warm, name="iscc-lab-warm-search", daemon=True).start()

    def _warm(self) -> None:
        """Ready the catalogue's search vectors (content) while the server starts serving, so
        that the first GET /search of a large store does not wait for them."""
        try:
            self.store.catalogue.warm("content")
        except Exception as e:  # noqa: BLE001 - the first search builds them instead
            logging.getLogger(__name__).info("search vectors not warmed: %s", e)

    def owner(self, client_address: str) -> str:
        return self.store.owner_of(client_address)

    def required_owner(self, client_address: str) -> str | None:
        """The owner a request must be to touch a media: None when private files are off."""
        return self.owner(client_address) if self.settings.private_files else None

    async def job(self, name: str, *args, **kwargs):
        """Run a core verb on the store in a worker process."""
        call = partial(
            run_job,
            name,
            str(self.store.root),
            self.store.max_upload_size,
            self._settings_dump,
            *args,
            **kwargs,
        )
        result = await self.pool.run(call, label=self._label(name, args))
        self.store.catalogue.after_job(name, args, result)  # what the worker wrote, catalogued
        return result

    def _label(self, name: str, args: tuple) -> str | None:
        """The file name a job works on, for the messages of a job stopped at a limit."""
        if name in ("iscc", "metadata", "embed") and args:
            try:
                return self.store.get(args[0]).filename
            except IsccLabError:
                return None
        return None

    async def cleanup(self) -> list[str]:
        """Delete expired media (off the IO loop)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self.store.expire, self.settings.storage_expiry)


class IsccLabApp(ExtensionApp):
    """Serves the ISCC REST contract under `{base_url}api/v1` and its docs under `{base_url}docs`."""

    name = "iscc_lab"
    load_other_extensions = True

    media_path = Unicode(
        config=True, help="Folder of the uploaded media (default: ISCC_WEB_MEDIA_PATH)."
    )
    allow_anonymous = Bool(
        config=True,
        help="Serve the API without Jupyter authentication, trusted networks only "
        "(default: ISCC_WEB_ALLOW_ANONYMOUS).",
    )
    max_workers = Integer(
        None,
        allow_none=True,
        config=True,
        help="ISCC worker processes; None: one per core (default: ISCC_WEB_MAX_WORKERS).",
    )
    max_upload_size = Integer(
        config=True, help="Largest upload in bytes (default: ISCC_WEB_MAX_UPLOAD_SIZE)."
    )
    private_files = Bool(
        config=True,
        help="Only the uploader may download or change a media (default: ISCC_WEB_PRIVATE_FILES).",
    )
    storage_expiry = Integer(
        config=True, help="Seconds after which uploads expire (default: ISCC_WEB_STORAGE_EXPIRY)."
    )
    cleanup_interval = Integer(
        config=True,
        help="Seconds between cleanups of expired media; 0 is off "
        "(default: ISCC_WEB_CLEANUP_INTERVAL).",
    )
    job_timeout = Float(
        config=True,
        help="Seconds a job (one file's ISCC, metadata, embedding) may take; 0: no limit "
        "(default: ISCC_LAB_JOB_TIMEOUT, 3600).",
    )
    job_memory = Unicode(
        config=True,
        help="Memory a job may use with its tools, in bytes or with a K/M/G suffix (1G); "
        "0: no limit (default: ISCC_LAB_JOB_MEMORY, 8G).",
    )
    banner = Bool(
        False,
        config=True,
        help="Print the API's address, docs and token once the server runs (iscc-lab serve).",
    )
    sign_cert = Unicode(
        None,
        allow_none=True,
        config=True,
        help="PEM file of the certificate chain that signs C2PA manifests (POST /api/v1/sign) "
        "(default: ISCC_LAB_SIGN_CERT).",
    )
    sign_key = Unicode(
        None,
        allow_none=True,
        config=True,
        help="PEM file of the signer's private key (default: ISCC_LAB_SIGN_KEY).",
    )
    sign_alg = Unicode(
        config=True,
        help="Signature algorithm: es256, es384, es512, ps256, ps384, ps512 or ed25519 "
        "(default: ISCC_LAB_SIGN_ALG, es256).",
    )
    sign_tsa_url = Unicode(
        None,
        allow_none=True,
        config=True,
        help="An RFC 3161 time-stamp authority for signatures; none by default "
        "(default: ISCC_LAB_SIGN_TSA_URL).",
    )

    #: the traitlets that are settings of the service (Settings fields of the same names)
    options = (
        "media_path",
        "allow_anonymous",
        "max_workers",
        "max_upload_size",
        "private_files",
        "storage_expiry",
        "cleanup_interval",
        "sign_cert",
        "sign_key",
        "sign_alg",
        "sign_tsa_url",
        "job_timeout",
        "job_memory",
    )

    @cached_property
    def env_settings(self) -> Settings:
        """The settings of this server's environment (ISCC_WEB_*): the options' defaults."""
        return Settings()

    @default("media_path")
    def _default_media_path(self):
        return str(self.env_settings.media_path)

    @default("allow_anonymous")
    def _default_allow_anonymous(self):
        return self.env_settings.allow_anonymous

    @default("max_workers")
    def _default_max_workers(self):
        return self.env_settings.max_workers

    @default("max_upload_size")
    def _default_max_upload_size(self):
        return self.env_settings.max_upload_size

    @default("private_files")
    def _default_private_files(self):
        return self.env_settings.private_files

    @default("storage_expiry")
    def _default_storage_expiry(self):
        return self.env_settings.storage_expiry

    @default("cleanup_interval")
    def _default_cleanup_interval(self):
        return self.env_settings.cleanup_interval

    @default("sign_cert")
    def _default_sign_cert(self):
        value = self.env_settings.sign_cert
        return None if value is None else str(value)

    @default("sign_key")
    def _default_sign_key(self):
        value = self.env_settings.sign_key
        return None if value is None else str(value)

    @default("sign_alg")
    def _default_sign_alg(self):
        return self.env_settings.sign_alg

    @default("sign_tsa_url")
    def _default_sign_tsa_url(self):
        return self.env_settings.sign_tsa_url

    @default("job_timeout")
    def _default_job_timeout(self):
        return self.env_settings.job_timeout

    @default("job_memory")
    def _default_job_memory(self):
        return str(self.env_settings.job_memory)

    def service_settings(self) -> Settings:
        """The service's settings: the options (config, command line) over the environment."""
        values = {name: getattr(self, name) for name in self.options}
        try:
            return Settings(**values)
        except ValidationError as e:
            problems = "; ".join(
                f"IsccLabApp.{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors()
            )
            raise ValueError(f"iscc-lab: invalid option: {problems}") from None

    def initialize_settings(self):
        settings = self.service_settings()
        self.service = Service(settings)
        self.settings["iscc_lab_service"] = self.service
        self._cleanup = None
        IOLoop.current().add_callback(self.service.pool.warm)
        if settings.cleanup_interval > 0:
            # Scheduled on the server's loop now, run once it turns (also where the server is
            # embedded without the extension start hook, as in pytest-jupyter).
            IOLoop.current().add_callback(self._start_cleanup, settings.cleanup_interval)
        self.log.info(
            "iscc-lab: media in %s, %d worker processes, private files %s",
            settings.media_path,
            self.service.pool.max_workers,
            "on" if settings.private_files else "off",
        )

    def initialize_handlers(self):
        from iscc_lab.server_ext.c2pa_handlers import handlers as c2pa_handlers
        from iscc_lab.server_ext.collection_handlers import handlers as collection_handlers
        from iscc_lab.server_ext.handlers import handlers

        self.handlers.extend(c2pa_handlers())  # before the contract's catch-all 404
        self.handlers.extend(collection_handlers())  # before the contract's /media and 404
        self.handlers.extend(handlers())

    async def _start_jupyter_server_extension(self, serverapp):
        if self.banner:
            base = serverapp.connection_url
            token = serverapp.identity_provider.token
            print(
                f"\niscc-lab is serving the ISCC REST API\n"
                f"  API base: {base}api/v1\n"
                f"  API docs: {base}docs\n"
                f"  token:    {token}\n"
                f"  try:      curl -H 'Authorization: token {token}' "
                f"{base}api/v1/explain/ISCC:KMDMRJYGHHVRCZ5TM6U4G6D4MXA6LAXC4ZRPOKFU7JBEQXR2BJOS6NA\n",
                flush=True,
            )

    def _start_cleanup(self, interval: float):
        """Delete expired media now and every `interval` seconds (tornado's PeriodicCallback:
        a run that is still going when the next is due delays it, never overlaps it)."""
        self._cleanup = PeriodicCallback(self._cleanup_once, interval * 1000)
        self._cleanup.start()
        IOLoop.current().add_callback(self._cleanup_once)

    async def _cleanup_once(self):
        try:
            gone = await self.service.cleanup()
            if gone:
                self.log.info("iscc-lab: removed %d expired media", len(gone))
        except Exception:  # noqa: BLE001 - keep cleaning next time, whatever happened now
            self.log.exception("iscc-lab: cleanup failed")

    async def stop_extension(self):
        if self._cleanup is not None:
            self._cleanup.stop()
