module.exports = { displayName: 'plugins-data', preset: '../../jest.preset.cjs' };
