module.exports = { displayName: 'plugins-models', preset: '../../jest.preset.cjs' };
