// session: an authenticated API session (xapi datamodel.ml `Session`). Not persistent.
import { defineClass, field, message, param } from '../define.js';
import { NULL_DATE, NULL_REF, stringMap, t } from '../types.js';

export const Session = defineClass({
  name: 'session',
  doc: 'A session',
  persist: false,
  fields: {
    uuid: field(t.string, 'DynamicRO', 'Unique identifier/object reference'),
    this_host: field(t.ref('host'), 'DynamicRO', 'Currently connected host', { default: NULL_REF }),
    this_user: field(t.ref('user'), 'DynamicRO', 'Currently connected user', { default: NULL_REF }),
    last_active: field(t.datetime, 'DynamicRO', 'Timestamp for last time session was active'),
    pool: field(t.bool, 'DynamicRO', 'True if this session relates to a intra-pool login, false otherwise'),
    other_config: field(stringMap, 'RW', 'additional configuration', { default: {} }),
    is_local_superuser: field(
      t.bool,
      'DynamicRO',
      'true iff this session was created using local superuser credentials',
      { default: false },
    ),
    subject: field(
      t.ref('subject'),
      'DynamicRO',
      'references the subject instance that created the session. If a session instance has is_local_superuser set, then the value of this field is undefined.',
      { default: NULL_REF },
    ),
    validation_time: field(t.datetime, 'DynamicRO', 'time when session was last validated', {
      default: NULL_DATE,
    }),
    auth_user_sid: field(
      t.string,
      'DynamicRO',
      'the subject identifier of the user that was externally authenticated. If a session instance has is_local_superuser set, then the value of this field is undefined.',
      { default: '' },
    ),
    auth_user_name: field(
      t.string,
      'DynamicRO',
      'the subject name of the user that was externally authenticated. If a session instance has is_local_superuser set, then the value of this field is undefined.',
      { default: '' },
    ),
    rbac_permissions: field(t.set(t.string), 'StaticRO', 'list with all RBAC permissions for this session', {
      default: [],
    }),
    tasks: field(t.set(t.ref('task')), 'DynamicRO', 'list of tasks created using the current session'),
    parent: field(t.ref('session'), 'StaticRO', 'references the parent session that created this session', {
      default: NULL_REF,
    }),
    originator: field(
      t.string,
      'DynamicRO',
      'a key string provided by a API user to distinguish itself from other users sharing the same login name',
      { default: '' },
    ),
    client_certificate: field(
      t.bool,
      'DynamicRO',
      'indicates whether this session was authenticated using a client certificate',
      { default: false },
    ),
  },
  messages: {
    login_with_password: message({
      params: [
        param('uname', t.string, 'Username for login.'),
        param('pwd', t.string, 'Password for login.'),
        param('version', t.string, 'Client API version.', { default: '1.1' }),
        param(
          'originator',
          t.string,
          'Key string for distinguishing different API users sharing the same login name.',
          { default: '' },
        ),
      ],
      result: t.ref('session'),
      doc: 'Attempt to authenticate the user, returning a session reference if successful',
      errors: ['SESSION_AUTHENTICATION_FAILED', 'HOST_IS_SLAVE'],
      roles: 'read-only',
      secret: true,
      sessionless: true,
    }),
    slave_local_login_with_password: message({
      params: [
        param('uname', t.string, 'Username for login.'),
        param('pwd', t.string, 'Password for login.'),
      ],
      result: t.ref('session'),
      doc: 'Authenticate locally against a slave in emergency mode. Note the resulting sessions are only good for use on this host.',
      errors: ['SESSION_AUTHENTICATION_FAILED'],
      roles: 'pool-admin',
      secret: true,
      sessionless: true,
    }),
    logout: message({
      params: [],
      result: t.void,
      doc: 'Log out of a session',
      roles: 'read-only',
    }),
    local_logout: message({
      params: [],
      result: t.void,
      doc: 'Log out of local session.',
      roles: 'pool-admin',
    }),
  },
});
