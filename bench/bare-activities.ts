/** The baseline's activities: `noop` returns its input and does nothing else; `stamp` also says when it ran (epoch ms, the worker's clock). */
export const bareActivities = {
  async noop(value: number): Promise<number> {
    return value;
  },
  async stamp(): Promise<number> {
    return Date.now();
  },
};
