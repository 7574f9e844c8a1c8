module.exports = { displayName: 'plugins-fairness', preset: '../../jest.preset.cjs' };
