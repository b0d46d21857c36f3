"""Golden values for the few-step samplers, from diffusers' own schedulers.

For a fixed stand-in denoiser whose data prediction is m(x, t) = 0.8 tanh(x) + 0.1 sin(t / 300)
(t 1-based, element-wise), i.e. eps(x, t) = (x − √ᾱ_t m) / √(1 − ᾱ_t) with ᾱ_t in float64 from the
schedule's definition, runs diffusers' DPMSolverMultistepScheduler (DPM-Solver++(2M)), EulerDiscreteScheduler and
HeunDiscreteScheduler with their defaults and no clipping, on the steps of "trailing" spacing
below a start at t = 900 rather than T (above σ/α = 80 Noisescope's Heun takes Euler steps, as
Karras et al. start at σ = 80; and at the cosine schedule's T, √ᾱ_T ≈ 5e-5 and float32's
x̂0 = (x − σ ε̂)/√ᾱ loses three digits to cancellation, in either implementation), under
the linear (β from 1e-4 to 0.02, given explicitly: not every scheduler defaults to it) and cosine (squaredcos_cap_v2) schedules with T = 1000, and records
x after every step in the variance-preserving scale of x_t (the scale Noisescope's samplers
keep). For DPM-Solver++(2M) and its SDE form it also records every step's coefficients (the
weights of x_t, x̂0, the previous x̂0 and fresh noise). Writes samplers.json beside this file; tests/solvers.rs compares Noisescope's samplers
with it.

    python3 -m pip install torch diffusers numpy
    python3 tests/golden/samplers.py
"""

import json
import math
import pathlib

import diffusers
import numpy as np
import torch

T = 1000
START = 900
STEPS = [10, 25]
X_T = [-2.0, -1.3, -0.6, -0.1, 0.2, 0.7, 1.1, 1.9]
SCHEDULES = {"linear": "linear", "cosine": "squaredcos_cap_v2"}


def alpha_bars(name):
    """ᾱ_1..ᾱ_T in float64, from the schedules' definitions."""
    if name == "linear":
        betas = np.linspace(1e-4, 0.02, T, dtype=np.float64)
    else:
        f = lambda t: math.cos((t / T + 0.008) / 1.008 * math.pi / 2) ** 2
        betas = np.array([min(1 - f(i + 1) / f(i), 0.999) for i in range(T)])
    return np.cumprod(1.0 - betas)


def stand_in(name):
    """The stand-in denoiser for schedule `name`: eps(x, t), t 1-based."""
    ab = alpha_bars(name)

    def eps(x, t):
        a = ab[t - 1]
        x64 = x.double()
        m = 0.8 * torch.tanh(x64) + 0.1 * math.sin(t / 300.0)
        return (x64 - math.sqrt(a) * m) / math.sqrt(1.0 - a)

    return eps


def schedule_options(beta_schedule):
    """T and the schedule, with Ho et al.'s β range (Heun's own default range differs)."""
    return {
        "num_train_timesteps": T,
        "beta_schedule": beta_schedule,
        "beta_start": 1e-4,
        "beta_end": 0.02,
    }


def alpha_bar(scheduler, t):
    """ᾱ at 1-based t (1 at t = 0)."""
    return 1.0 if t == 0 else float(scheduler.alphas_cumprod[t - 1])


def plan(steps):
    """The 0-based timesteps: START, then trailing spacing's steps below it."""
    trailing = [round(T - i * T / steps) for i in range(steps)]
    return [START - 1] + [t - 1 for t in trailing if t < START]


def run_dpm_solver(eps, beta_schedule, steps):
    s = diffusers.DPMSolverMultistepScheduler(
        **schedule_options(beta_schedule),
        algorithm_type="dpmsolver++",
        solver_order=2,
    )
    s.set_timesteps(timesteps=plan(steps))
    x = torch.tensor(X_T, dtype=torch.float64)
    visited, trajectory = [], []
    for t in s.timesteps:
        t1 = int(t) + 1
        visited.append(t1)
        x = s.step(eps(x, t1), t, x).prev_sample
        trajectory.append(x.tolist())
    return visited, trajectory


def run_karras(eps, cls, beta_schedule, steps):
    """Euler or Heun: diffusers keeps x / √ᾱ (their σ scale); convert in and out."""
    s = cls(**schedule_options(beta_schedule))
    s.set_timesteps(timesteps=plan(steps))
    first = int(s.timesteps[0]) + 1
    x = torch.tensor(X_T, dtype=torch.float64) / math.sqrt(alpha_bar(s, first))
    distinct = []
    for t in s.timesteps:
        t1 = int(t) + 1
        if not distinct or distinct[-1] != t1:
            distinct.append(t1)
    visited, trajectory = [], []
    calls = list(s.timesteps)
    for i, t in enumerate(calls):
        t1 = int(t) + 1
        model_input = s.scale_model_input(x, t)
        x = s.step(eps(model_input, t1), t, x).prev_sample
        # Heun's first call of a step leaves it half done, except on the last step (to σ = 0).
        step_done = getattr(s, "state_in_first_order", True) or i == len(calls) - 1
        if step_done:
            # A whole step is done: x is at the next distinct step (0 after the last).
            index = len(trajectory) + 1
            to = distinct[index] if index < len(distinct) else 0
            visited.append(distinct[index - 1])
            trajectory.append((x * math.sqrt(alpha_bar(s, to))).tolist())
    return visited, trajectory


def dpm_solver_coefficients(beta_schedule, steps, algorithm_type):
    """Per step of the plan, the weights of x, this step's x̂0, the previous step's x̂0 and fresh
    noise in diffusers' update, read off by feeding it unit vectors (the update is linear)."""
    s = diffusers.DPMSolverMultistepScheduler(
        **schedule_options(beta_schedule), algorithm_type=algorithm_type, solver_order=2
    )
    s.set_timesteps(timesteps=plan(steps))
    unit = torch.eye(4, dtype=torch.float64)
    x, m0, m1, z = unit[0], unit[1], unit[2], unit[3]
    rows = []
    for i in range(len(s.timesteps)):
        s._step_index = i
        last = i == len(s.timesteps) - 1
        if i == 0 or last:
            out = s.dpm_solver_first_order_update(m0, sample=x, noise=z)
        else:
            out = s.multistep_dpm_solver_second_order_update([m1, m0], sample=x, noise=z)
        rows.append([float(v) for v in out])
    return rows


def main():
    out = {
        "diffusers": diffusers.__version__,
        "torch": torch.__version__,
        "T": T,
        "start": START,
        "x_T": X_T,
        "cases": [],
    }
    for name, beta_schedule in SCHEDULES.items():
        for steps in STEPS:
            eps = stand_in(name)
            runs = {
                "dpmpp-2m": run_dpm_solver(eps, beta_schedule, steps),
                "euler": run_karras(eps, diffusers.EulerDiscreteScheduler, beta_schedule, steps),
                "heun": run_karras(eps, diffusers.HeunDiscreteScheduler, beta_schedule, steps),
            }
            for sampler, (visited, trajectory) in runs.items():
                out["cases"].append(
                    {
                        "schedule": name,
                        "sampler": sampler,
                        "steps": steps,
                        "visited": visited,
                        "trajectory": np.round(np.array(trajectory), 7).tolist(),
                    }
                )
    out["dpm_solver_coefficients"] = [
        {
            "schedule": name,
            "steps": steps,
            "stochastic": algorithm_type == "sde-dpmsolver++",
            "coefficients": dpm_solver_coefficients(beta_schedule, steps, algorithm_type),
        }
        for name, beta_schedule in SCHEDULES.items()
        for steps in STEPS
        for algorithm_type in ["dpmsolver++", "sde-dpmsolver++"]
    ]
    path = pathlib.Path(__file__).with_name("samplers.json")
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
