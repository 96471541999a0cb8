/** The baseline's only activity: it returns its input and does nothing else. */
export const bareActivities = {
  async noop(value: number): Promise<number> {
    return value;
  },
};
