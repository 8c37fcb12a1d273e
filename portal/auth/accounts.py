"""Accounts: creating users, hashing and checking passwords (argon2)."""
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select

from ..extensions import db
from ..models import Department, Role, User

# OWASP's recommended argon2id setting (19 MiB, 2 passes, 1 lane): ~25 ms of one core per check.
# argon2-cffi's default (64 MiB, 3 passes, 4 lanes) costs ~200 ms of CPU on all cores at once, so a
# burst of sign-ins would take the whole host from clerks' work; OWASP rates these equally strong
# against offline guessing. Older hashes still verify and are upgraded at their next sign-in.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)

MIN_PASSWORD_LENGTH = 8
ROLE_LABELS = {"admin": "管理员", "clerk": "业务人员", "auditor": "审计员"}


class AccountError(ValueError):
    """A user-facing problem with account data (message in Chinese, English in parentheses)."""


# Password checks run in a thread of their own at the lowest CPU priority (nice 19, Linux), so
# that the CPU a flood of sign-in guesses costs goes to clerks' requests first whenever they
# want it; on an idle host the check runs at full speed. argon2-cffi releases the GIL while it
# hashes, so the request's own thread just waits. See SIGNIN_HASH_SLOTS for the host-wide cap.
PASSWORD_CHECK_NICENESS = 19
_checker: ThreadPoolExecutor | None = None
_checker_pid: int | None = None
_checker_lock = threading.Lock()


def _lower_priority() -> None:
    # On Linux a thread id names one thread, so only the checker thread is niced; elsewhere
    # setpriority would nice the whole process, so it is left alone.
    if sys.platform == "linux":
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), PASSWORD_CHECK_NICENESS)


def in_checker_thread(function, *args):
    """Run `function(*args)` in one of this process's low-priority password-check threads; return its result."""
    global _checker, _checker_pid
    with _checker_lock:
        if _checker is None or _checker_pid != os.getpid():  # a forked worker starts its own thread
            # Threads start as needed; how many checks run at once is capped per host by
            # SIGNIN_HASH_SLOTS (portal/auth/throttle.py), this only bounds a threaded server.
            _checker = ThreadPoolExecutor(max_workers=8, thread_name_prefix="password-check",
                                          initializer=_lower_priority)
            _checker_pid = os.getpid()
        checker = _checker
    return checker.submit(function, *args).result()


def _matches(password_hash: str, password: str) -> bool:
    try:
        _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return True


def hash_password(password: str) -> str:
    return _hasher.hash(password)


_DUMMY_HASH = None


def burn_time(password: str) -> None:
    """Spend one hash verification so unknown usernames answer as slowly as known ones."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = _hasher.hash("not a real password")
    in_checker_thread(_matches, _DUMMY_HASH, password or "")


def check_password(user: User, password: str) -> bool:
    """True when `password` matches (never modifies the user)."""
    if user is None or not user.password_hash or password is None:
        return False
    return in_checker_thread(_matches, user.password_hash, password)


def rehashed(user: User, password: str) -> str | None:
    """A new hash of the (correct) `password` if the user's was made with older parameters, else None."""
    try:
        return hash_password(password) if _hasher.check_needs_rehash(user.password_hash) else None
    except InvalidHashError:
        return None


def validate_password(password: str) -> None:
    if not password or len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符（password too short）")


def _role(role) -> Role:
    try:
        return Role(getattr(role, "value", role))
    except ValueError:
        raise AccountError(f"未知角色：{role}，可选 admin、clerk、auditor（unknown role）") from None


def resolve_department(department) -> Department | None:
    """Accept a Department, its id or its code."""
    if department is None or department == "":
        return None
    if isinstance(department, Department):
        return department
    if isinstance(department, int):
        found = db.session.get(Department, department)
    else:
        found = db.session.execute(select(Department).where(Department.code == str(department))).scalar()
    if found is None:
        raise AccountError(f"未知部门：{department}（unknown department）")
    return found


def create_user(username: str, password: str, role, department=None, display_name=None) -> User:
    """Build a user and add it to the session (no commit). Raises AccountError on bad input."""
    username = (username or "").strip()
    if not username or len(username) > 80:
        raise AccountError("用户名不能为空且不超过 80 个字符（invalid username）")
    role = _role(role)
    dept = resolve_department(department)
    if role is Role.CLERK and dept is None:
        raise AccountError("业务人员必须指定所属部门（a clerk needs --department）")
    if role is not Role.CLERK:
        dept = dept  # admins/auditors may carry a department for display only
    validate_password(password)
    if db.session.execute(select(User.id).where(User.username == username)).first():
        raise AccountError(f"用户名 {username} 已存在（username taken）")
    user = User(username=username, password_hash=hash_password(password), role=role, department=dept,
                display_name=display_name, active=True, session_version=1)
    db.session.add(user)
    return user


def set_password(user: User, password: str) -> None:
    """Change the password and end every existing session of the user."""
    validate_password(password)
    user.password_hash = hash_password(password)
    user.session_version = (user.session_version or 1) + 1


def end_sessions(user: User) -> None:
    user.session_version = (user.session_version or 1) + 1
