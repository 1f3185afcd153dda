from gantrack.epoch_report import TrainingProgress


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def run_epochs(progress, clock, epochs, steps, seconds_per_step, first_epoch=0):
    progress.set_params({"epochs": epochs, "steps": steps})
    for epoch in range(first_epoch, epochs):
        progress.on_epoch_begin(epoch)
        for batch in range(steps):
            clock.now += seconds_per_step
            progress.on_train_batch_end(batch)


def test_expected_duration_after_warmup_at_the_measured_rate():
    clock, lines = Clock(), []
    progress = TrainingProgress(
        periodic=False, warmup_steps=2, measure_steps=4, clock=clock, write=lines.append
    )
    run_epochs(progress, clock, epochs=3, steps=50, seconds_per_step=0.5)
    # 2 steps/s; 3 epochs of 50 steps = 150 steps = 75 s.
    assert lines == ["expected training time: 1 min 15 s (3 epochs of 50 steps at 2.0 steps/s)"]


def test_a_resumed_run_expects_only_the_epochs_left():
    clock, lines = Clock(), []
    progress = TrainingProgress(
        periodic=False, warmup_steps=1, measure_steps=2, clock=clock, write=lines.append
    )
    run_epochs(progress, clock, epochs=12, steps=100, seconds_per_step=0.25, first_epoch=10)
    assert lines == ["expected training time: 50 s (2 epochs of 100 steps at 4.0 steps/s)"]


def test_periodic_lines_give_the_step_and_both_etas():
    clock, lines = Clock(), []
    progress = TrainingProgress(
        periodic=True,
        every_s=30.0,
        warmup_steps=1,
        measure_steps=1,
        clock=clock,
        write=lines.append,
    )
    run_epochs(progress, clock, epochs=2, steps=100, seconds_per_step=1.0)
    status = [line for line in lines if line.startswith("epoch ")]
    assert status[0] == (
        "epoch 1/2: step 30/100, 1.0 steps/s; epoch done in 1 min 10 s, training in 2 min 50 s"
    )
    assert len(status) == 6  # every 30 s of 200 s
    quiet = TrainingProgress(periodic=False, warmup_steps=1, measure_steps=1, clock=clock)
    quiet.write = lines.append
    before = len(lines)
    run_epochs(quiet, clock, epochs=2, steps=100, seconds_per_step=1.0)
    assert len(lines) == before + 1  # the expected duration only
