/** Study storage in Optuna's journal format (docs/search.md, "Studies"). */
export type { JournalBackend, JournalRecord } from './backend.js';
export {
  DEFAULT_LOCK_GRACE_PERIOD_MS,
  JournalFileBackend,
  JournalFileOpenLock,
  JournalFormatError,
  type JournalFileBackendOptions,
  type JournalFileLock,
  type JournalFileLockOptions,
} from './file-backend.js';
export {
  JournalOperation,
  JournalOperationError,
  JournalReplay,
  TRIAL_STATE_CODES,
  distributionFromJson,
  distributionToJson,
  pythonDatetime,
  type JournalDirection,
  type JournalStudyRecord,
  type JournalTrialRecord,
} from './journal-format.js';
export { JournalStorage, JournalStudy, openJournalStudy, type JournalStorageOptions, type JournalTrial } from './journal.js';
export { PyFloat, pyFloatRepr, pyJsonDumps, pyJsonLoads } from './python-json.js';
export { JournalRedisBackend, checkRedisUrl, type JournalRedisBackendOptions } from './redis-backend.js';
export { DEFAULT_STORAGE, journalFile, journalFiles, openJournalStorage, parseStorage, type OpenStorageOptions, type StorageLocation } from './location.js';
