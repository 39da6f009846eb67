// Credentials come from the environment and never show in messages.
import test from 'ava';
import { openScale, redactedServer } from '../../src/scale/client.js';
import { credentialsFromEnv, scaleConfig } from '../../src/scale/config.js';
import { natsServerBinary, startNats } from './nats-server.js';

const bin = natsServerBinary();

test('credentials: a token wins over user/password; URLs are logged without user:pass', (t) => {
  t.deepEqual(credentialsFromEnv({ PTYCHOFLOW_NATS_TOKEN: 'tok', PTYCHOFLOW_NATS_USER: 'u' }), { token: 'tok' });
  t.deepEqual(credentialsFromEnv({ PTYCHOFLOW_NATS_USER: 'u', PTYCHOFLOW_NATS_PASSWORD: 'p' }), { user: 'u', pass: 'p' });
  t.deepEqual(credentialsFromEnv({}), {});
  t.is(redactedServer('nats://alice:s3cret@host:4222,nats://h2:4222'), 'nats://host:4222,nats://h2:4222');
  t.throws(() => scaleConfig({ server: 'nats://x:1', maxDeliver: 0 }), { code: 'BAD_OPTION' });
});

(bin !== undefined ? test.serial : test.serial.skip)(
  `a token-protected server: connects with PTYCHOFLOW_NATS_TOKEN, refuses without, never prints it${bin === undefined ? ' (skipped: nats-server not found)' : ''}`,
  async (t) => {
    const secret = 'tok-2f9c41';
    const srv = await startNats(bin!, ['--auth', secret]);
    const before = process.env.PTYCHOFLOW_NATS_TOKEN;
    try {
      const config = scaleConfig({ server: srv.url, timeout: 3, memory: true });
      delete process.env.PTYCHOFLOW_NATS_TOKEN;
      const e = await t.throwsAsync(openScale(config), { code: 'NATS_CONNECT' });
      process.env.PTYCHOFLOW_NATS_TOKEN = 'wrong-token';
      const wrong = await t.throwsAsync(openScale(config), { code: 'NATS_CONNECT' });
      t.false(wrong.message.includes('wrong-token'));
      process.env.PTYCHOFLOW_NATS_TOKEN = secret;
      const c = await openScale(config);
      await c.close();
      t.false(e.message.includes(secret));
    } finally {
      if (before === undefined) delete process.env.PTYCHOFLOW_NATS_TOKEN;
      else process.env.PTYCHOFLOW_NATS_TOKEN = before;
      await srv.dispose();
    }
  },
);
