import t from 'tap';
import { createActor, fromCallback } from 'xstate';
import { recoveryMachine, type RecoveryEvent, type RecoveryFacts } from '../../states/recovery.js';

/** A recovery machine whose decider records the facts it was given and answers from a script. */
function start(answers: ('deferred' | 'clear' | 'fail')[]) {
  const asked: RecoveryFacts[] = [];
  const actor = createActor(
    recoveryMachine.provide({
      actors: {
        decide: fromCallback<RecoveryEvent, RecoveryFacts>(({ input, sendBack }) => {
          asked.push(input);
          const a = answers.shift() ?? 'clear';
          sendBack(a === 'fail' ? { type: 'DECISION_FAILED' } : { type: 'DECIDED', deferred: a === 'deferred' });
        }),
      },
    }),
  );
  actor.start();
  return { actor, asked, state: () => actor.getSnapshot().value };
}

t.test('boot: decides once the devices are opened, with what the validator said meanwhile', async (t) => {
  const r = start(['clear']);
  t.equal(r.state(), 'booting');
  r.actor.send({ type: 'NOTE_HANDED_BACK' });
  t.same(r.asked, [], 'nothing is decided before the devices are opened');
  r.actor.send({ type: 'DEVICES_OPENED', validatorReady: true });
  t.same(r.asked, [{ validatorReady: true, noteInStacker: false, noteHandedBack: true }], 'decided synchronously');
  t.equal(r.state(), 'clear');
  r.actor.send({ type: 'VALIDATOR_OK', idle: true });
  r.actor.send({ type: 'TRANSACTION_ENDED' });
  t.equal(r.asked.length, 1, 'nothing left to decide');
});

t.test('power-up facts: bill in the stacker, bill in the acceptor', async (t) => {
  const a = start(['clear']);
  a.actor.send({ type: 'VALIDATOR_POWER_UP', bill: 'stacker' });
  a.actor.send({ type: 'DEVICES_OPENED', validatorReady: true });
  t.same(a.asked[0], { validatorReady: true, noteInStacker: true, noteHandedBack: false });
  const b = start(['clear']);
  b.actor.send({ type: 'VALIDATOR_POWER_UP', bill: 'acceptor' });
  b.actor.send({ type: 'DEVICES_OPENED', validatorReady: false });
  t.same(b.asked[0], { validatorReady: false, noteInStacker: false, noteHandedBack: true });
});

t.test('deferred: decided again when the validator is ok and nobody is at the kiosk', async (t) => {
  const r = start(['deferred', 'clear']);
  r.actor.send({ type: 'DEVICES_OPENED', validatorReady: false });
  t.equal(r.state(), 'deferred');
  r.actor.send({ type: 'NOTE_HANDED_BACK' });
  r.actor.send({ type: 'TRANSACTION_ENDED' });
  t.equal(r.asked.length, 1, 'a transaction ending does not decide while the validator has not answered');
  r.actor.send({ type: 'VALIDATOR_OK', idle: false });
  t.equal(r.asked.length, 1, 'not while a customer is at the kiosk');
  r.actor.send({ type: 'VALIDATOR_OK', idle: true });
  t.same(r.asked[1], { validatorReady: true, noteInStacker: false, noteHandedBack: true });
  t.equal(r.state(), 'clear');
  r.actor.send({ type: 'NOTE_HANDED_BACK' });
  r.actor.send({ type: 'DEVICES_OPENED', validatorReady: true });
  t.same(r.asked[2], { validatorReady: true, noteInStacker: false, noteHandedBack: true }, 'a note seen after the decision is not a new fact');
});

t.test('deferred with the validator ready: the end of the running transaction decides again', async (t) => {
  const r = start(['deferred', 'deferred', 'clear']);
  r.actor.send({ type: 'DEVICES_OPENED', validatorReady: true });
  t.equal(r.state(), 'deferred');
  r.actor.send({ type: 'TRANSACTION_ENDED' });
  t.equal(r.asked.length, 2);
  t.equal(r.state(), 'deferred');
  r.actor.send({ type: 'TRANSACTION_ENDED' });
  t.equal(r.state(), 'clear');
});

t.test('a failed decision counts as none: a retry decides again', async (t) => {
  const r = start(['fail', 'deferred', 'fail']);
  r.actor.send({ type: 'DEVICES_OPENED', validatorReady: true });
  t.equal(r.state(), 'booting');
  r.actor.send({ type: 'NOTE_HANDED_BACK' });
  r.actor.send({ type: 'DEVICES_OPENED', validatorReady: false });
  t.same(r.asked[1], { validatorReady: false, noteInStacker: false, noteHandedBack: true });
  t.equal(r.state(), 'deferred');
  r.actor.send({ type: 'VALIDATOR_OK', idle: true });
  t.equal(r.state(), 'deferred', 'a failed retry of a deferred decision keeps waiting');
});
