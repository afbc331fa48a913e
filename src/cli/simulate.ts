export async function simulateCommand(argv: Record<string, unknown>): Promise<void> {
  const { runSimulation } = await import('../sim/simulate.js');
  await runSimulation(argv);
}
